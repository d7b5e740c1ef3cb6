"""``python -m templates.reference``: serve the reference runtime."""

from templates.reference.server import main

if __name__ == "__main__":
    main()
