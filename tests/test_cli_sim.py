"""``flashjig sim``: emulated modules on pseudo terminals, each named and on its own device
(esptool's side of them: tests/test_emulator_*.py)."""


def test_sim_serves_three_modules(sim):
    assert list(sim) == ["module1", "module2", "module3"]
    assert len(set(sim.values())) == 3
