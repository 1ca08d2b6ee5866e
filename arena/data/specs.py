"""The built-in datasets: where each file comes from, its SHA-256, and which reader loads it.

Upstream files are pinned to a commit and fetched from ``https://raw.githubusercontent.com/
<repo>/<commit>/<path>/<file>``. Only the files a reader needs are listed. Sizes are the row
counts per split that the reader produces (checked by the tests on the real files).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pyarrow as pa

from arena.data.formats import load_jigsaw, load_olid, load_tweeteval

RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}/{file}"
TREE_URL = "https://github.com/{repo}/tree/{commit}/{path}"


@dataclass(frozen=True)
class Upstream:
    """A folder of a public GitHub repository at a fixed commit."""

    repo: str
    commit: str
    path: str

    def file_url(self, file: str) -> str:
        return RAW_URL.format(repo=self.repo, commit=self.commit, path=self.path, file=file)

    @property
    def url(self) -> str:
        return TREE_URL.format(repo=self.repo, commit=self.commit, path=self.path)


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset and the SHA-256 (hex) it must have."""

    name: str
    sha256: str


@dataclass(frozen=True)
class DatasetSpec:
    """A built-in dataset: its files, where they come from, and how to read them.

    ``upstream`` is None when the files have no public origin (they then come only from a
    mirror). ``reader(folder)`` turns the fetched folder into a text table.
    """

    name: str
    task: str
    description: str
    files: tuple[FileSpec, ...]
    reader: Callable[[Path], pa.Table]
    upstream: Upstream | None
    sizes: dict[str, int] = field(default_factory=dict)
    license: str = ""


_TWEETEVAL = "cardiffnlp/tweeteval", "4fbd22cd78421f05b1ecdb4fc5725bc7a7bd8f66"
_OLID = "wenliangdai/multi-task-offensive-language-detection", "6c2071a677e7380c026b2bd59338370f9807e1da"

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="tweeteval_offensive",
            task="offensive",
            description="TweetEval offensive: OLID level A tweets (OFF=1), TweetEval's train/val/test",
            files=(
                FileSpec(
                    "train_text.txt", "78a7a32e38b10af7d8970b008bf17f661c8d0a90dad145fa0fa6a944669650db"
                ),
                FileSpec(
                    "train_labels.txt", "c0b7d6ebdaa4ebcf6fc557ef1e775d92eda160218a0e3b1dd48eb8234dc892a6"
                ),
                FileSpec("val_text.txt", "816f36d180c35f15a5104838cb73856a0bef42043482fe738f3481b06242a55c"),
                FileSpec(
                    "val_labels.txt", "ed2deb776bd1c52fb8221fadd3360e32d9dfe46842d78053528126e46363a258"
                ),
                FileSpec("test_text.txt", "25b08c3333c26190f1023961c4508ec9aab24d4722b1a3ea7a6040724c120547"),
                FileSpec(
                    "test_labels.txt", "41d05a7aa0b01f5dafab21b95adb4f979cb4226c046ff315702774d10dac1605"
                ),
            ),
            reader=partial(load_tweeteval, name="tweeteval_offensive"),
            upstream=Upstream(*_TWEETEVAL, "datasets/offensive"),
            sizes={"train": 11916, "val": 1324, "test": 860},
            license="TweetEval: no restrictions; OLID states no license (cite Zampieri et al. 2019)",
        ),
        DatasetSpec(
            name="tweeteval_hate",
            task="hate",
            description="TweetEval hate: HatEval 2019 English tweets, hate against immigrants or women (1)",
            files=(
                FileSpec(
                    "train_text.txt", "6572bb3a42143128a5dfa99af8debeb0668e637c34b2d1e3140dac47316fe2c2"
                ),
                FileSpec(
                    "train_labels.txt", "4e8fde025a453a25c94632794254131dedeac4e57228ad64157c41571cc88f71"
                ),
                FileSpec("val_text.txt", "1ff78b1ed4c5ce43284b9eba32eb7d60c6d45d0d1b3b4d6df456ae01640764f1"),
                FileSpec(
                    "val_labels.txt", "5092badf1a0e70036ea6264bcd0b78afc07d0f4a512fa6af34c2c4973600656b"
                ),
                FileSpec("test_text.txt", "bc4762876a8dd8baa55c3cd7b03108e3231a5d691e80b8b1ef97c5be31b9da9a"),
                FileSpec(
                    "test_labels.txt", "c14adca6b3627616a835c5ccea8a1cceb0235cd79417257f093eb0e16a69c62f"
                ),
            ),
            reader=partial(load_tweeteval, name="tweeteval_hate"),
            upstream=Upstream(*_TWEETEVAL, "datasets/hate"),
            sizes={"train": 8993, "val": 999, "test": 2970},  # 7 + 1 empty lines dropped
            license="HatEval: CC BY-NC 4.0 (research, non-commercial)",
        ),
        DatasetSpec(
            name="olid",
            task="offensive",
            description="OLID v1.0 level A in its original TSV layout (same tweets as tweeteval_offensive); "
            "val = stratified 10% of train, seed 2019",
            files=(
                FileSpec(
                    "olid-training-v1.0.tsv",
                    "d976bd6faf7800571d06aa4fda00c11c1d39e6fd139747067f683d0c6e76d31f",
                ),
                FileSpec(
                    "testset-levela.tsv", "5fff16b4fc474b859540200ef7befd42883fc42810e0a18d3bd621ba90b9cb9e"
                ),
                FileSpec(
                    "labels-levela.csv", "f301af1a52210727e6601958e7b9795a0b22d81f51f9ad8e1870c503c684fc31"
                ),
            ),
            reader=partial(load_olid, name="olid"),
            upstream=Upstream(*_OLID, "OLIDv1.0"),
            sizes={"train": 11916, "val": 1324, "test": 860},
            license="OLID states no license (cite Zampieri et al. 2019); host repository CC BY 4.0",
        ),
        DatasetSpec(
            name="jigsaw_sample",
            task="toxic",
            description="2,000-row sample of Kaggle Jigsaw Toxic Comments in Kaggle's layout (any label=1); "
            "for loader tests, too small to train on; mirror only",
            files=(
                FileSpec("train.csv", "c0a21478c8ef378e090e2ff4eec1187bc5ab8534084b79262b89bbdb60aa031f"),
                FileSpec("test.csv", "dfc23bf52500e52c2542f8442820b59f28c84ea1fc87d789bcb0dcdcdfdeae27"),
                FileSpec(
                    "test_labels.csv", "9ccd8d4c21f35c753ae90394abdb4fe1a7992dc8bdaf5c0249c90c288632d37d"
                ),
            ),
            reader=partial(load_jigsaw, name="jigsaw_sample"),
            upstream=None,
            sizes={"train": 1440, "val": 160, "test": 400},
            license="Kaggle: CC0; comment text: Wikipedia CC BY-SA 3.0",
        ),
    )
}
"""Built-in datasets by name."""
