"""`python -m aiexport`: the same as the `aiexport` command."""

from aiexport.cli import main

if __name__ == "__main__":
    main()
