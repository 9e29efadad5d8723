"""`python -m ctui.examples` prints the folder holding the sample files."""

from ctui.examples import FOLDER

print(FOLDER)
