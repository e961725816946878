"""The plugin layer: :mod:`.hookspecs` (the contract), :mod:`.types` (what hooks receive and
return), :mod:`.manager` (the plugin manager and the template registry built from it).
"""
