"""Data sets: digits, image folders and tarballs, the CIFAR python format, the cache, the split,
and the device-side augmentation and batches."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hiernas.config import DataConfig
from hiernas.data import cifar, load
from hiernas.data.augment import crop_padding, random_crop, random_flip
from hiernas.data.device import DeviceImages, Normalise, TrainBatches
from hiernas.data.digits import load_digits
from hiernas.data.load import load_dataset
from hiernas.data.split import Split, split_train_validation
from hiernas.data.tar import _tarfile_members, members
from hiernas.errors import InputError

# --- digits and the split ---------------------------------------------------------------------


def test_digits_shapes_and_fixed_stratified_test_set() -> None:
    data = load_digits()
    assert data.train_x.shape == (1438, 1, 8, 8) and data.test_x.shape == (359, 1, 8, 8)
    assert data.train_x.dtype == np.uint8 and int(data.train_x.max()) == 16
    assert data.classes == tuple("0123456789") and not data.flip
    counts = np.bincount(data.test_y, minlength=10)
    totals = counts + np.bincount(data.train_y, minlength=10)
    assert np.all(np.abs(counts - 0.2 * totals) <= 1)
    again = load_digits()
    assert np.array_equal(data.test_x, again.test_x) and np.array_equal(data.test_y, again.test_y)


def test_split_is_seeded_stratified_and_sized() -> None:
    labels = load_digits().train_y
    split = split_train_validation(labels, 0.2, seed=3)
    assert len(split.validation) == round(0.2 * len(labels))
    assert len(split.train) + len(split.validation) == len(labels)
    assert not set(split.train) & set(split.validation)
    per_class = np.bincount(labels[split.validation], minlength=10)
    assert np.all(np.abs(per_class - 0.2 * np.bincount(labels)) <= 1)
    same = split_train_validation(labels, 0.2, seed=3)
    assert np.array_equal(split.validation, same.validation)
    assert split.record() == same.record()
    other = split_train_validation(labels, 0.2, seed=4)
    assert not np.array_equal(split.validation, other.validation)
    assert split.record()["sha256"] != other.record()["sha256"]
    counted = split_train_validation(labels, 100, seed=3)
    assert len(counted.validation) == 100
    assert counted.record() == {"seed": 3, "train": len(labels) - 100, "validation": 100} | {
        "sha256": counted.record()["sha256"]
    }


@pytest.mark.parametrize("validation", [1438, 5000])
def test_split_refuses_to_hold_everything_out(validation: float) -> None:
    with pytest.raises(InputError, match=r"data\.validation.*between 1 and 1437"):
        split_train_validation(load_digits().train_y, validation, seed=0)


def test_digits_take_no_path() -> None:
    with pytest.raises(InputError, match="takes no path"):
        load_dataset(DataConfig(dataset="digits", path="x"))


# --- image folders and tarballs ---------------------------------------------------------------


def _image(seed: int, size: tuple[int, int] = (6, 5), mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)


def _tree(root: Path, classes: dict[str, int] | None = None, mode: str = "RGB") -> dict[str, np.ndarray]:
    """PNG (lossless) images under root/{train,test}/<class>/; returns the expected arrays by path."""
    expected = {}
    seed = 0
    for split, count in (("train", 3), ("test", 2)):
        for cls, _ in sorted((classes or {"bird": 0, "ant": 0}).items()):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for k in range(count):
                seed += 1
                image = _image(seed, mode=mode)
                image.save(folder / f"{k:02d}.png")
                expected[f"{split}/{cls}/{k:02d}.png"] = np.asarray(image)
    return expected


def _tarball(tree: Path, out: Path, prefix: str = "") -> Path:
    with tarfile.open(out, "w:gz") as archive:
        archive.add(tree, arcname=prefix or ".")
    return out


def _check_decoded(data, expected: dict[str, np.ndarray]) -> None:  # type: ignore[no-untyped-def]
    assert data.classes == ("ant", "bird")
    assert data.train_x.shape == (6, 3, 5, 6) and data.test_x.shape == (4, 3, 5, 6)
    assert data.train_x.dtype == np.uint8 and data.flip
    assert data.train_y.tolist() == [0, 0, 0, 1, 1, 1] and data.test_y.tolist() == [0, 0, 1, 1]
    # Ordered by class, then file name; stored (C, H, W).
    assert np.array_equal(data.train_x[0], expected["train/ant/00.png"].transpose(2, 0, 1))
    assert np.array_equal(data.train_x[5], expected["train/bird/02.png"].transpose(2, 0, 1))
    assert np.array_equal(data.test_x[3], expected["test/bird/01.png"].transpose(2, 0, 1))


def test_image_folder_decodes_and_second_load_hits_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _tree(tmp_path / "set")
    config = DataConfig(dataset="folder", path=str(tmp_path / "set"), cache_dir=str(tmp_path / "cache"))
    _check_decoded(load_dataset(config), expected)
    assert len(list((tmp_path / "cache").glob("set-*.npz"))) == 1

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(load, "load_folder", no_decoding)
    _check_decoded(load_dataset(config), expected)
    # Touching the source changes the key: the cache is not used for a changed data set.
    os.utime(tmp_path / "set" / "train" / "ant" / "00.png", ns=(1, 1))
    with pytest.raises(AssertionError, match="decoded again"):
        load_dataset(config)


@pytest.mark.parametrize("prefix", ["", "cifar"])
def test_image_tarball_decodes_like_the_folder(tmp_path: Path, prefix: str) -> None:
    expected = _tree(tmp_path / "set")
    tarball = _tarball(tmp_path / "set", tmp_path / "set.tar.gz", prefix)
    data = load_dataset(DataConfig(dataset="folder", path=str(tarball)))
    assert data.name == "set"
    _check_decoded(data, expected)
    # cifar10 with an image-folder tarball is the same loader.
    _check_decoded(load_dataset(DataConfig(dataset="cifar10", path=str(tarball))), expected)


def test_grey_images_stay_one_channel(tmp_path: Path) -> None:
    expected = _tree(tmp_path / "set", mode="L")
    data = load_dataset(DataConfig(dataset="folder", path=str(tmp_path / "set")))
    assert data.train_x.shape == (6, 1, 5, 6)
    assert np.array_equal(data.train_x[0, 0], expected["train/ant/00.png"])


def test_fast_tar_reader_matches_tarfile_on_long_names(tmp_path: Path) -> None:
    long = "d" * 120
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
            for name, payload in ((f"train/{long[:60]}/{long[:90]}.png", b"x" * 700), ("test/a/b.png", b"")):
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
            directory = tarfile.TarInfo("train/empty")
            directory.type = tarfile.DIRTYPE
            archive.addfile(directory)
        raw = buffer.getvalue()
        assert list(members(raw)) == list(_tarfile_members(raw))
    assert next(iter(members(raw))).name.endswith(long[:90] + ".png")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: (root / "set" / "test").rename(root / "elsewhere"), r"no test/ folder"),
        (lambda root: (root / "set" / "train" / "cat").mkdir(), r"class folder train/cat has no images"),
        (lambda root: (root / "set" / "test" / "bird" / "01.png").write_bytes(b"junk"), r"test/bird/01.png"),
        (lambda root: _image(9, size=(7, 7)).save(root / "set" / "train" / "bird" / "09.png"), r"same size"),
        (lambda root: (root / "set" / "train" / "bird").rename(root / "set" / "train" / "crow"), r"crow"),
    ],
    ids=["no-test", "empty-class", "corrupt-image", "odd-size", "class-mismatch"],
)
def test_broken_image_folders_are_input_errors(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    _tree(tmp_path / "set")
    damage(tmp_path)
    with pytest.raises(InputError, match=message):
        load_dataset(DataConfig(dataset="folder", path=str(tmp_path / "set")))


def test_missing_and_unreadable_sources_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(DataConfig(dataset="folder", path=str(tmp_path / "nothing")))
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b" + os.urandom(3000))
    with pytest.raises(InputError, match="not a readable tarball"):
        load_dataset(DataConfig(dataset="folder", path=str(junk)))
    truncated = _tarball(_tree_dir(tmp_path), tmp_path / "cut.tar.gz")
    truncated.write_bytes(truncated.read_bytes()[:-200])
    with pytest.raises(InputError, match="not a readable tarball"):
        load_dataset(DataConfig(dataset="folder", path=str(truncated)))


def _tree_dir(tmp_path: Path) -> Path:
    _tree(tmp_path / "tree")
    return tmp_path / "tree"


# --- CIFAR-10, python format -----------------------------------------------------------------


def _cifar_tarball(
    tmp_path: Path, per_batch: int = 4, skip: str | None = None, payload: object = None
) -> Path:
    """The official layout and pickle format, with a few random images per batch."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in (*cifar.TRAIN_BATCHES, cifar.TEST_BATCH):
        if name == skip:
            continue
        batch = payload or {
            b"batch_label": name.encode(),
            b"labels": rng.integers(0, 10, per_batch).tolist(),
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"filenames": [f"{k}.png".encode() for k in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": [c.encode() for c in cifar.CLASSES], b"num_vis": 3072}
    (folder / cifar.META).write_bytes(pickle.dumps(meta))
    out = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(out, "w:gz") as archive:
        archive.add(folder, arcname="cifar-10-batches-py")
    return out


def test_cifar_python_tarball_loads(tmp_path: Path) -> None:
    tarball = _cifar_tarball(tmp_path)
    data = load_dataset(DataConfig(dataset="cifar10", path=str(tarball)))
    assert data.name == "cifar10" and data.classes == cifar.CLASSES
    assert data.train_x.shape == (20, 3, 32, 32) and data.test_x.shape == (4, 3, 32, 32)
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("cifar-10-batches-py/data_batch_1")
        assert member is not None
        first = pickle.loads(member.read())
    # Row layout: 1024 red, then green, then blue values, each row-major.
    assert np.array_equal(data.train_x[0, 1].ravel(), first[b"data"][0, 1024:2048])
    assert data.train_y[:4].tolist() == first[b"labels"]
    # The extracted folder reads the same.
    extracted = load_dataset(DataConfig(dataset="cifar10", path=str(tmp_path / "cifar-10-batches-py")))
    assert np.array_equal(extracted.train_x, data.train_x)


def test_cifar_python_errors(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with pytest.raises(InputError, match="data_batch_3"):
        load_dataset(
            DataConfig(dataset="cifar10", path=str(_cifar_tarball(tmp_path / "a", skip="data_batch_3")))
        )
    (tmp_path / "b").mkdir()
    hostile = _cifar_tarball(tmp_path / "b", payload={b"data": os.getcwd, b"labels": []})
    with pytest.raises(InputError, match="refusing to load"):
        load_dataset(DataConfig(dataset="cifar10", path=str(hostile)))


def test_cifar_download_without_network_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(cifar.urllib.request, "urlopen", offline)
    with pytest.raises(InputError, match=r"cannot download CIFAR-10.*data\.path"):
        load_dataset(DataConfig(dataset="cifar10", cache_dir=str(tmp_path)))
    monkeypatch.setattr(cifar.urllib.request, "urlopen", lambda *a, **k: io.BytesIO(b"not the archive"))
    with pytest.raises(InputError, match=r"MD5 .* expected c58f30108f718f92721af3b95e74349a"):
        load_dataset(DataConfig(dataset="cifar10", cache_dir=str(tmp_path)))
    assert not list(tmp_path.iterdir()), "a failed download leaves nothing behind"


@pytest.mark.slow
def test_shared_cifar_jpeg_tarball(
    cifar_tarball: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real 60,000-image copy: decoded once, then read from the cache (never decoded again)."""
    config = DataConfig(dataset="cifar10", path=str(cifar_tarball), cache_dir=str(tmp_path))
    data = load_dataset(config)
    assert data.train_x.shape == (50000, 3, 32, 32) and data.test_x.shape == (10000, 3, 32, 32)
    assert data.classes == cifar.CLASSES
    assert np.bincount(data.train_y).tolist() == [5000] * 10
    assert np.bincount(data.test_y).tolist() == [1000] * 10
    # JPEG shifts pixels by a few grey levels only: channel means stay near CIFAR-10's.
    means = data.train_x[::10].mean(axis=(0, 2, 3))
    assert np.allclose(means, [125.3, 123.0, 113.9], atol=3)
    [cache_file] = [p for p in tmp_path.iterdir() if p.suffix == ".npz"]
    written = cache_file.stat()

    def decoded_again(*args: object) -> None:
        raise AssertionError("a cached data set was decoded again")

    monkeypatch.setattr(load, "load_folder", decoded_again)
    monkeypatch.setattr(load, "load_cifar_python", decoded_again)
    cached = load_dataset(config)
    assert (cache_file.stat().st_ino, cache_file.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert np.array_equal(cached.test_x, data.test_x) and np.array_equal(cached.train_y, data.train_y)
    split = split_train_validation(data.train_y, 10000, seed=0)
    assert isinstance(split, Split) and (len(split.train), len(split.validation)) == (40000, 10000)


# --- augmentation and device batches ---------------------------------------------------------


def _images(n: int = 64, size: int = 8, channels: int = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    # 1..255 so that the zero padding is distinguishable from every real pixel.
    return torch.randint(1, 256, (n, channels, size, size), generator=generator, dtype=torch.uint8)


def test_crop_padding_scales_with_image_size() -> None:
    assert crop_padding(32) == 4 and crop_padding(8) == 1 and crop_padding(64) == 8 and crop_padding(3) == 1


def test_random_crop_shifts_each_image_and_is_seeded() -> None:
    images = _images()
    out = random_crop(images, 1, torch.Generator().manual_seed(5))
    assert out.shape == images.shape and out.dtype == torch.uint8
    again = random_crop(images, 1, torch.Generator().manual_seed(5))
    assert torch.equal(out, again)
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1))
    shifts = set()
    for k in range(len(images)):
        found = [
            (dy, dx)
            for dy in range(3)
            for dx in range(3)
            if torch.equal(out[k], padded[k, :, dy : dy + 8, dx : dx + 8])
        ]
        assert len(found) == 1, "every output is one shifted copy of its own image"
        shifts.add(found[0])
    assert len(shifts) > 5 and not torch.equal(out, images)


def test_random_flip_mirrors_about_half() -> None:
    images = _images()
    out = random_flip(images, torch.Generator().manual_seed(1))
    same = [torch.equal(out[k], images[k]) for k in range(len(images))]
    mirrored = [torch.equal(out[k], images[k].flip(2)) for k in range(len(images))]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 10 < sum(mirrored) < 54


def test_train_batches_cover_an_epoch_and_respect_the_generator() -> None:
    images = _images(50)
    labels = torch.arange(50)
    data = DeviceImages(images, labels)
    batches = TrainBatches(data, 16, torch.Generator().manual_seed(2), augment=False, flip=False)
    epoch = list(batches.epoch())
    assert len(epoch) == batches.steps_per_epoch == 3
    seen = torch.cat([y for _, y in epoch])
    assert len(set(seen.tolist())) == 48  # shuffled, last partial batch dropped
    for x, y in epoch:
        assert torch.equal(x, images[y])
    replay = TrainBatches(data, 16, torch.Generator().manual_seed(2), augment=True, flip=True)
    first = TrainBatches(data, 16, torch.Generator().manual_seed(2), augment=True, flip=True)
    for (xa, ya), (xb, yb) in zip(first.epoch(), replay.epoch(), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    with pytest.raises(InputError, match="batch_size: 64 is more than the 50"):
        TrainBatches(data, 64, torch.Generator(), augment=False, flip=False)


def test_normalise_centres_the_training_images() -> None:
    images = _images(200, channels=1).numpy()
    normalise = Normalise(images, "cpu")
    out = normalise(torch.from_numpy(images))
    assert out.dtype == torch.float32 and out.shape == images.shape
    assert abs(float(out.mean())) < 1e-4 and abs(float(out.std()) - 1) < 1e-2
