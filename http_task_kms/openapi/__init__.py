"""OpenAPI documents in the AWS JSON convention: :mod:`.load` turns one into task templates,
:mod:`.generate` writes one from botocore's service model. Helpers: :mod:`.yaml_strict`
(bounded, strict YAML), :mod:`.cache` (a JSON copy of each parsed document), :mod:`.html`
(descriptions as plain text), :mod:`.errors` (error facts botocore's model does not hold),
:mod:`.parts` (an operation's parameters and the document's servers), :mod:`.pointer`
(JSON Pointers for error locations).
"""
