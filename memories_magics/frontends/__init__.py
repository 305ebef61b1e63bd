"""The ways a person asks: the ``%%llm``/``%%compare`` magics, the seed's Python API and the
panel. They sit above the engine and the display code and nothing below imports them."""
