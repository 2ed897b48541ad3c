"""python -m evergreen"""

from evergreen.cli import main

main()
