"""Training, evaluation and prediction: recipes (``config``), the trainer (``train``),
distributed set-up (``distributed``), multi-view evaluation (``evaluate``), prediction and
embedding extraction (``predict``). The engine reads what a model declares
(``videoformer.models.base``) and never names a model family."""
