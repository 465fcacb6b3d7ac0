"""Simulated station hardware for the command line and the tests, never for the daemon
on its own: mock pins with emulated modules in the sockets (``hardware``), a started
station over them (``station``), and standalone modules on pseudo terminals for
``flashjig sim`` (``modules``)."""
