"""Scripts and the bench that measure newsbot; never part of `make test` pass/fail."""
