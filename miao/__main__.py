"""``python -m miao``: the same as the ``miao`` command."""

from miao.cli import main

main()
