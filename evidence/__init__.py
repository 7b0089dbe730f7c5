"""Evidence packs for SPBE evaluation and Audit TIK (``simpul evidence``)."""
