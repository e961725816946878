"""Key-policy analysis, offline and pure: :mod:`.model` and :mod:`.arns` (parsing), :mod:`.lint`
(with :mod:`.lint_statement`, :mod:`.lint_principals`, :mod:`.lint_actions`,
:mod:`.lint_conditions` and :mod:`.lint_manage`), :mod:`.lockout` (with :mod:`.conditions`),
:mod:`.diff`, and :mod:`.iam` (KMS's IAM actions and condition keys).
"""
