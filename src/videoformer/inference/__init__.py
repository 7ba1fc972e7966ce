"""Using a model: its test views (``preprocessing``), prediction and embeddings
(``predictor``), saving and loading with what it takes to use it again
(``saved_model``), relevance maps (``explanation``) and ONNX export (``export``)."""
