"""The files under USER/ and their one owner each (and the one way to write, open and lock a file)."""
