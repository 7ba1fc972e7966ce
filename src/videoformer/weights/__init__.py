"""Where weights come from and how they load: the downloader (``hub``), the checkpoint
reader (``loading``), the files videoformer writes (``model_file``), Hugging Face
directories (``hf``), the resolver that decides what a source is (``source``), and
``create_model`` (``factory``), with the registry's descriptions (``zoo``)."""
