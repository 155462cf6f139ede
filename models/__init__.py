"""Model families (see ``neurosig models``).

Importing this package imports no model module: each module defines its
:class:`~neurosig.modelspec.ModelSpec` as a module attribute, which :mod:`neurosig.registry`
imports when the model is first asked for.
"""
