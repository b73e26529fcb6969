"""``python -m horae.cli``: the same as the ``horae`` script."""

from horae.cli import main

main()
