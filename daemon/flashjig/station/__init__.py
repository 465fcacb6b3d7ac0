"""The running station: each socket's state machine (``socket``), the station that owns
them (``station``), the journal (``journal``) and the morning report over it (``report``),
the control socket (``control``), the daemon that ``flashjig run`` starts (``daemon``),
systemd's notifications and journald logging (``service``, ``logs``), and where a
station keeps its files (``paths``)."""
