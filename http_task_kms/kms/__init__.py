"""The KMS plugin: the hook implementations (:mod:`.plugin`), the PutKeyPolicy checks
(:mod:`.checks`), the safe send (:mod:`.safety`: read, diff, back up, send), rollback
(:mod:`.rollback`), key-policy analysis (:mod:`.policy`), and dev tooling: the embedded KMS
(:mod:`.local`, moto on 127.0.0.1) and the demo (:mod:`.demo`).
"""
