"""Type stubs of the native extension (src/*.rs). Use the documented API in
modelreg (Registry, TextClassifier); NativeRegistry is its implementation."""

from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, final

__all__ = [
    "FollowState",
    "NativeRegistry",
    "S3_SUPPORT",
    "TEXTCLF_MODEL_TYPE",
    "TextClassifier",
    "__version__",
    "error_classes",
    "serve",
]

__version__: str
TEXTCLF_MODEL_TYPE: str
S3_SUPPORT: bool

def error_classes() -> List[str]: ...
def serve(argv: List[str]) -> int: ...

@final
class FollowState:
    def first(self) -> Tuple[str, str]: ...
    def poll(self) -> Optional[Tuple[str, str, Any]]: ...
    def loaded(self, version: str, metadata_sha256: str) -> None: ...
    def failed(self, version: str, metadata_sha256: str) -> bool: ...
    def moved(self) -> None: ...

@final
class NativeRegistry:
    def __new__(
        cls,
        location: str,
        model: Optional[str] = None,
        s3_endpoint: Optional[str] = None,
        trusted_keys: Optional[List[str]] = None,
        cache: bool = True,
        cache_dir: Optional[str] = None,
    ) -> "NativeRegistry": ...
    def for_target(self, target: str) -> "NativeRegistry": ...
    def location(self) -> str: ...
    def model(self) -> Optional[str]: ...
    def list_models(self) -> List[str]: ...
    def save_bytes(
        self,
        data: bytes,
        extension: str,
        metadata: str,
        model_type: Optional[str] = None,
        serializer: Optional[str] = None,
        version: Optional[str] = None,
        bump: Optional[str] = None,
        data_path: Optional[str] = None,
        sign_key: Optional[str] = None,
        key_password: Optional[str] = None,
        environment: Optional[str] = None,
    ) -> str: ...
    def save_classifier(
        self,
        classifier: TextClassifier,
        metadata: str,
        version: Optional[str] = None,
        bump: Optional[str] = None,
        data_path: Optional[str] = None,
        sign_key: Optional[str] = None,
        key_password: Optional[str] = None,
        environment: Optional[str] = None,
    ) -> str: ...
    def save_path(
        self,
        path: str,
        metadata: str,
        version: Optional[str] = None,
        bump: Optional[str] = None,
        data_path: Optional[str] = None,
        sign_key: Optional[str] = None,
        key_password: Optional[str] = None,
        environment: Optional[str] = None,
    ) -> str: ...
    def load(self, target: str) -> Tuple[str, Any, str]: ...
    def metadata(self, target: str) -> str: ...
    def get_file(self, target: str, out: str, force: bool) -> Tuple[str, int, int]: ...
    def list_versions(
        self,
        conditions: List[str],
        sort: Optional[str] = None,
        descending: bool = False,
        limit: Optional[int] = None,
        include_deprecated: bool = False,
    ) -> str: ...
    def promote(
        self,
        version: str,
        alias: str,
        expect: Optional[str] = None,
        if_better: bool = False,
        metric: Optional[str] = None,
        force: bool = False,
    ) -> Tuple[str, bool]: ...
    def rollback(self, alias: str, to: Optional[str] = None) -> str: ...
    def delete(self, target: str, reason: Optional[str] = None) -> str: ...
    def undelete(self, target: str) -> str: ...
    def history(self, alias: str) -> str: ...
    def aliases(self) -> str: ...
    def resolve(self, alias: str) -> str: ...
    def follow_state(self, alias: str) -> FollowState: ...
    def sign(self, target: str, key: str, key_password: Optional[str] = None) -> str: ...
    def is_signed(self, target: str) -> bool: ...
    def verify(self) -> str: ...

@final
class TextClassifier:
    """A text classifier (TF-IDF + linear model) chosen by the trainer's
    cross-validated grid search; scikit-learn's method names."""

    def __new__(cls) -> "TextClassifier": ...
    def fit(
        self,
        texts: Sequence[str],
        labels: Union[Sequence[str], Sequence[int]],
        grid: Optional[List[Dict[str, Any]]] = None,
        folds: int = 5,
        seed: int = 42,
        test_size: float = 0.2,
        search: str = "auto",
        time_budget: Optional[float] = None,
        max_memory: Optional[int] = None,
    ) -> "TextClassifier": ...
    def predict(self, texts: Sequence[str]) -> List[Union[str, int]]: ...
    def predict_proba(self, texts: Sequence[str]) -> List[List[float]]: ...
    @property
    def classes_(self) -> List[Union[str, int]]: ...
    @property
    def best_params_(self) -> Dict[str, Any]: ...
    @property
    def best_score_(self) -> float: ...
    @property
    def test_score_(self) -> float: ...
    @property
    def cv_results_(self) -> List[Dict[str, Any]]: ...
    @property
    def n_features_(self) -> int: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: Union[bytes, bytearray]) -> "TextClassifier": ...
