"""benchmarks/peers.py gives timm a torchvision stand-in only where the real one does not
import: on a machine with a working torchvision (the GPU machine) the real one stays."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from benchmarks.peers import install_torchvision_stand_in
install_torchvision_stand_in()
import torchvision
from torchvision.transforms import InterpolationMode
real = type(torchvision).__name__ == "module"  # the stand-in is a module subclass
print(torchvision.REAL if real else "stand-in", InterpolationMode.NEAREST)
"""


@pytest.mark.parametrize(
    "package, expected",
    [
        (  # imports: kept, with its own names
            "REAL = 'real'\nfrom . import transforms\n",
            "real nearest",
        ),
        (  # built for another torch: the stand-in, and no half-imported module left
            "from . import transforms\nraise RuntimeError('operator torchvision::nms')\n",
            "stand-in InterpolationMode.NEAREST",
        ),
    ],
)
def test_the_stand_in_never_shadows_a_torchvision_that_imports(tmp_path, package, expected):
    pkg = tmp_path / "torchvision"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(package)
    (pkg / "transforms.py").write_text("class InterpolationMode:\n    NEAREST = 'nearest'\n")
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(tmp_path), str(ROOT)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[0] == expected
