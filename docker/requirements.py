"""Print the requirements of pyproject.toml's base dependencies plus the extras named on the command line.

The images install from this, so every pin (torch and torchvision among them) lives in pyproject.toml
alone and the images match the tests.
"""

import sys
import tomllib

with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
extras = project["optional-dependencies"]
lines = [*project["dependencies"], *(requirement for extra in sys.argv[1:] for requirement in extras[extra])]
print("\n".join(lines))
