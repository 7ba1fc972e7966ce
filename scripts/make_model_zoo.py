"""Print docs/model_zoo.md from the registry:
``python scripts/make_model_zoo.py > docs/model_zoo.md``."""

from videoformer.weights.zoo import model_zoo_markdown

print(model_zoo_markdown(), end="")
