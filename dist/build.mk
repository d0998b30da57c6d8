# make install: binaries (the BPF object is embedded), the unit and its
# settings, the man pages and the docs.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
UNITDIR    ?= /etc/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/flowpin
MANDIR     ?= $(PREFIX)/share/man

# Made again whenever the paths change (make install PREFIX=/usr after a
# plain make install), and only then.
$(BUILD)/flowpind.service: dist/flowpind.service.in FORCE | $(BUILD)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		-e 's|@DOCDIR@|$(DOCDIR)|g' $< > $@.tmp
	$(Q)cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

install: $(PROGS) $(BUILD)/flowpind.service
	install -D -m 0755 $(PROGS) -t $(DESTDIR)$(SBINDIR)
	install -D -m 0644 $(BUILD)/flowpind.service $(DESTDIR)$(UNITDIR)/flowpind.service
	install -D -m 0644 README.md docs/DESIGN.md LICENSE -t $(DESTDIR)$(DOCDIR)
	install -D -m 0644 man/flowpind.8 man/flowpinctl.8 -t $(DESTDIR)$(MANDIR)/man8
	install -D -m 0644 dist/flowpin-alerts.yml dist/grafana-flowpin.json \
		-t $(DESTDIR)$(DOCDIR)/examples
	test -e $(DESTDIR)$(SYSCONFDIR)/default/flowpind || \
		install -D -m 0644 dist/flowpind.default $(DESTDIR)$(SYSCONFDIR)/default/flowpind

.PHONY: install
