"""The ``gaistd`` command: parse arguments, call library functions, print."""
