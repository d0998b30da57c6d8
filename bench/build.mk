# make bench (issue 6): not part of make test.
