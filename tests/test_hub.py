"""Weights by name or URL: a loopback HTTP server (127.0.0.1) and a fake Hugging Face
cache stand in for the internet; nothing here needs a network."""

import hashlib
import http.server
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from videoformer import create_model
from videoformer.models import registry
from videoformer.models.registry import DataSpec, WeightsSpec
from videoformer.weights.hub import DownloadError, cached_path, download, hf_snapshot

TINY = dict(
    img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=1, num_heads=2, num_classes=5
)


class Handler(http.server.BaseHTTPRequestHandler):
    """/good.pyth and friends from ``server.files``; /truncated.pth lies about its length;
    /page.pth is an HTML page; anything else is 404. Counts the requests."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.requests += 1
        name = self.path.lstrip("/")
        if name in ("closed.pth", "huge.pth", "drip.pth"):
            self.misbehave(name)
            return
        if name == "truncated.pth":
            body = self.server.files["good.pyth"]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            return
        if name == "page.pth":
            body = b"<!DOCTYPE html><html><body>Sign in to download</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        elif name in self.server.files:
            body = self.server.files[name]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
        else:
            self.send_error(404, "Not Found")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def misbehave(self, name):
        """closed.pth: half a zip, no length, then the connection closes; huge.pth: claims
        a terabyte; drip.pth: a byte every 0.2 s."""
        body = self.server.files["good.pyth"]
        self.send_response(200)
        if name == "huge.pth":
            self.send_header("Content-Length", str(2**40))
        self.end_headers()
        if name == "closed.pth":
            self.wfile.write(body[: len(body) // 2])
        elif name == "huge.pth":
            self.wfile.write(body[:1000])
        else:
            for byte in body[:200]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    trained = create_model("timesformer", **TINY).eval()
    torch.save(
        {"model_state": {f"model.{k}": v for k, v in trained.state_dict().items()}},
        tmp_path / "good.pyth",
    )  # the official container and key prefix
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files = {"good.pyth": (tmp_path / "good.pyth").read_bytes()}
    for version in ("v1", "v2"):
        save_file({"w": torch.full((3,), float(version[1]))}, tmp_path / f"{version}.safetensors")
        httpd.files[f"{version}/model.safetensors"] = (
            tmp_path / f"{version}.safetensors"
        ).read_bytes()
    httpd.requests = 0
    httpd.trained = trained
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()


@pytest.fixture(autouse=True)
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_cache"))


def test_download_caches_and_reuses_without_network(server):
    url = f"{server.url}/good.pyth"
    digest = hashlib.sha256(server.files["good.pyth"]).hexdigest()
    path = download(url, sha256=digest, progress=False)
    assert path == cached_path(url) and path.parts[-4:-2] == ("hub", "checkpoints")
    assert path.name == "good.pyth"  # the file name stays readable
    assert path.read_bytes() == server.files["good.pyth"] and server.requests == 1
    assert download(url, sha256=digest[:8]) == path and server.requests == 1  # no second request
    assert not list(path.parent.glob(".*partial"))


def test_bad_downloads_leave_nothing_in_the_cache(server):
    for name, message in [
        ("missing.pth", "HTTP 404"),
        ("page.pth", "web page"),
        ("truncated.pth", "stopped"),
    ]:
        with pytest.raises(DownloadError, match=message):
            download(f"{server.url}/{name}", progress=False)
        assert not cached_path(f"{server.url}/{name}").exists()
    with pytest.raises(DownloadError, match="does not match the published 0000"):
        download(f"{server.url}/good.pyth", sha256="0000", progress=False)
    assert not any(cached_path(f"{server.url}/good.pyth").parent.glob("*"))


def test_cached_file_with_another_hash_is_refused_naming_both(server):
    url = f"{server.url}/good.pyth"
    path = download(url, progress=False)
    torch.save({"tampered": torch.ones(1)}, path)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = hashlib.sha256(server.files["good.pyth"]).hexdigest()
    with pytest.raises(
        DownloadError, match=f"sha256 {actual} does not match the published {expected}"
    ):
        download(url, sha256=expected)


def test_unreachable_names_the_url_and_the_cache_path():
    url = "http://127.0.0.1:9/TimeSformer_divST_8x32_224_K400.pyth"  # discard port: refused
    with pytest.raises(
        DownloadError,
        match=r"cannot reach .*K400.pyth.*put it at .*hub/checkpoints/[0-9a-f]{16}/"
        r"TimeSformer_divST_8x32_224_K400.pyth",
    ):
        download(url, progress=False)


def test_file_urls_and_bad_schemes(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"PK\x03\x04")
    assert download((tmp_path / "w.pth").as_uri()) == tmp_path / "w.pth"
    with pytest.raises(FileNotFoundError):
        download((tmp_path / "nope.pth").as_uri())
    with pytest.raises(ValueError, match="only http"):
        download("ftp://example.com/w.pth")


@pytest.fixture
def tiny_tag(server, monkeypatch):
    """A variant with released weights on the loopback server."""
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    data = DataSpec(
        32, "4x2x1", (0.45,) * 3, (0.225,) * 3, labels="kinetics400", protocol="timesformer"
    )
    spec = WeightsSpec(
        "k5",
        f"{server.url}/good.pyth",
        "test",
        "timesformer_official",
        "test",
        data,
        5,
        sha256=hashlib.sha256(server.files["good.pyth"]).hexdigest()[:8],
        config={"num_classes": 5},
    )
    base = registry._MODELS["timesformer_base"]
    registry._MODELS["tiny_test"] = registry.ModelEntry(
        "tiny_test", "timesformer", lambda **o: base.build(**{**TINY, **o}), (spec,)
    )
    return spec


def test_create_model_by_tag_downloads_once_and_matches(server, tiny_tag):
    x = torch.randn(1, 3, 4, 32, 32)
    for name in ("tiny_test.k5", "tiny_test"):  # a tag, or the variant's default tag
        model = create_model(name, pretrained=True).eval()
        torch.testing.assert_close(model(x), server.trained(x), rtol=0, atol=0)
        assert model.weights_spec is tiny_tag and model.load_report.layout == "timesformer_official"
    assert server.requests == 1
    assert "tiny_test.k5" in registry.list_models("tiny*", pretrained=True)


def test_unknown_tag_lists_the_close_ones():
    with pytest.raises(ValueError, match="no weights tagged 'k4000' \\(did you mean k400"):
        create_model("timesformer_base.k4000", pretrained=True)
    with pytest.raises(ValueError, match="perceiver_imagenet has no released weights"):
        create_model("perceiver_imagenet", pretrained=True)


def test_urls_and_hub_ids_as_pretrained(server, tmp_path, monkeypatch):
    x = torch.randn(1, 3, 4, 32, 32)
    model = create_model("timesformer", pretrained=f"{server.url}/good.pyth", **TINY).eval()
    torch.testing.assert_close(model(x), server.trained(x), rtol=0, atol=0)
    # a fake HF cache: models--org--name/refs/main -> snapshots/<commit>/
    repo = tmp_path / "hf_cache" / "models--someone--tiny-timesformer"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    save_file(server.trained.state_dict(), snapshot / "model.safetensors")
    assert hf_snapshot("someone/tiny-timesformer") == snapshot
    model = create_model("timesformer", pretrained="someone/tiny-timesformer", **TINY).eval()
    torch.testing.assert_close(model(x), server.trained(x), rtol=0, atol=0)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    with pytest.raises(
        DownloadError, match="not in the HF cache .* huggingface_hub is not installed"
    ):
        hf_snapshot("someone/absent")


def test_every_released_url_is_http_and_every_tag_builds():
    """The registry itself: URLs point at files, tags build their configs (meta device)."""
    tags = registry.list_models(pretrained=True)
    timesformer = [
        f"timesformer_{v}.{t}" for v in ("base", "hr", "large") for t in ("k400", "k600", "ssv2")
    ]
    mmaction = [f"timesformer_base.mmaction_k400{s}" for s in ("", "_joint", "_space_only")]
    swin = [
        f"swin_{v}.{t}"
        for v in ("tiny", "small", "base")
        for t in ("in1k", "in22k", "in22k_ft_in1k")
    ]
    video_swin = [
        "video_swin_tiny.k400_in1k",
        "video_swin_small.k400_in1k",
        "video_swin_base.k400_in1k",
        "video_swin_base.k400_in22k",
        "video_swin_base.k600_in22k",
        "video_swin_base.ssv2_k400_in22k",
        "video_swin_large.k400_in22k",
        "video_swin_large.k700_in22k",
    ]
    perceiver = [f"perceiver_io_imagenet_{p}.in1k" for p in ("conv", "fourier", "learned")]
    expected = timesformer + mmaction + swin + ["swin_large.in22k", "swin_large.in22k_ft_in1k"]
    assert sorted(tags) == sorted(expected + video_swin + perceiver)
    for name in tags:
        entry, spec = registry.resolve_weights(name)
        assert spec.url.startswith("https://") and Path(spec.url.split("?")[0]).suffix in (
            ".pyth",
            ".pth",
            ".bin",
        )
        assert spec.source.startswith("https://github.com/") or spec.source.startswith(
            "https://huggingface.co/"
        )
        with torch.device("meta"):
            model = entry.build(**spec.config)
        assert model.config.num_classes == spec.num_classes
        assert (spec.top1 is None) == name.endswith(".in22k"), name  # a 21,841-class model
        assert spec.top1 is None or (50 < spec.top1 < 90 and spec.reported_on), name


def test_predictor_takes_a_tag(server, tiny_tag):
    from videoformer.inference.predictor import Predictor

    predictor = Predictor("tiny_test.k5", labels=list("abcde"))
    frames = torch.randint(0, 256, (12, 40, 48, 3), dtype=torch.uint8)
    x = predictor.views(frames)
    assert x.shape == (1, 3, 4, 32, 32)  # the tag's protocol: 1 clip x 1 crop
    with torch.no_grad():  # as the predictor runs (short attention is written out there)
        expected = server.trained(x)
    torch.testing.assert_close(predictor.logits(frames), expected, rtol=0, atol=0)


def test_the_cache_is_keyed_by_the_whole_url(server):
    """Two URLs ending in the same file name (every HF .../resolve/main/model.safetensors)
    never share a cache file; the second is fetched, not served the first offline."""
    first = download(f"{server.url}/v1/model.safetensors", progress=False)
    second = download(f"{server.url}/v2/model.safetensors", progress=False)
    assert first != second and first.name == second.name == "model.safetensors"
    assert second.read_bytes() == server.files["v2/model.safetensors"] and server.requests == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<!DOCTYPE html><html>Dropbox</html>", "is a web page.*dl=1"),
        (b"\x00" * 4096, "is not a checkpoint"),
        (b"", "is empty"),
        (b"PK\x03\x04" + b"x" * 100, "cut short: a zip archive without its end"),
    ],
)
def test_a_bad_file_in_the_cache_is_named_with_the_fix(server, content, message):
    url = f"{server.url}/good.pyth"
    path = cached_path(url)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(DownloadError, match=f"cached {path} .*{message}.*rm {path}"):
        create_model("timesformer", pretrained=url, **TINY)
    assert server.requests == 0  # nothing fetched behind the user's back


def test_misbehaving_servers_leave_nothing_in_the_cache(server, monkeypatch):
    with pytest.raises(DownloadError, match="cut short: a zip archive without its end"):
        download(f"{server.url}/closed.pth", progress=False)  # close-delimited, cut in half
    with pytest.raises(DownloadError, match="1024.0 GiB and .* GiB free"):
        download(f"{server.url}/huge.pth", progress=False)
    monkeypatch.setenv("VIDEOFORMER_DOWNLOAD_DEADLINE", "1")
    start = time.monotonic()
    with pytest.raises(DownloadError, match="after 1 s, the deadline"):
        download(f"{server.url}/drip.pth", progress=False)
    assert time.monotonic() - start < 10
    for name in ("closed.pth", "huge.pth", "drip.pth"):
        assert not any(cached_path(f"{server.url}/{name}").parent.glob("*"))


def test_a_url_without_a_file_name_is_one_clear_error():
    with pytest.raises(ValueError, match="names no file"):
        download("http://127.0.0.1:9/weights/%2e%2e", progress=False)
