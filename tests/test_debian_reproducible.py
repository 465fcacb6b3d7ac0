"""The Debian package is reproducible: the same tree builds the same bytes. In a file of its
own, so that its second build runs on another xdist worker while the first build's package
is installed and tried (test_debian_package.py)."""

import os

import pytest
from buildcache import build_deb, cache_dir, packaging_inputs, sha256, writing

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="building a package needs root"),
]


def test_two_builds_of_one_version_are_the_same(package):
    """Every wheel pinned, mtimes clamped to the changelog's date, no build path inside:
    the same tree builds the same bytes.

    The second build need not be this run's. The cache keeps, under the digest of the
    packaging inputs (buildcache.packaging_inputs: every file the build reads, the build
    tools' versions, the architecture), the digest of a package built from those inputs
    that was itself found equal to a second build. When the inputs are unchanged since, this
    run's package is compared with that build; when they changed (or there is no cache, or
    the earlier package differs: say a wheel for a pinned version was published since), the
    tree is built again here and the two compared, as ever, and the result kept."""
    inputs = packaging_inputs()
    cache = cache_dir()
    verified = cache / f"deb-reproduced-{inputs}" if cache else None
    earlier = verified.read_text().strip() if verified and verified.exists() else None
    if earlier != sha256(package):
        assert build_deb().read_bytes() == package.read_bytes()
    if verified and earlier != sha256(package):
        with writing(verified) as partial:
            partial.write_text(sha256(package) + "\n")
