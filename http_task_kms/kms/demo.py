"""``http-task-kms demo``: a PutKeyPolicy Test request against the embedded KMS.

Starts moto's server on 127.0.0.1, creates an IAM user and a key there, switches moto's
signature check on, sends PutKeyPolicy (through every check, signed with that user's key)
and reads the policy back with GetKeyPolicy. No AWS account, no network.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from botocore.credentials import Credentials

from ..auth.sigv4 import AwsCredentials, SigV4Signer
from ..client import Client
from ..options import Options
from .local import LocalKms

__all__ = ["run_demo", "sample_policy"]


def sample_policy(account: str, admin_arn: str) -> dict[str, Any]:
    """The AWS default key policy plus a statement that keeps ``admin_arn`` able to administer."""
    return {
        "Version": "2012-10-17",
        "Id": "http-task-kms-demo",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "Allow access for Key Administrators",
                "Effect": "Allow",
                "Principal": {"AWS": admin_arn},
                "Action": [
                    "kms:Create*",
                    "kms:Describe*",
                    "kms:Enable*",
                    "kms:List*",
                    "kms:Put*",
                    "kms:Update*",
                    "kms:Revoke*",
                    "kms:Disable*",
                    "kms:Get*",
                    "kms:Delete*",
                    "kms:TagResource",
                    "kms:UntagResource",
                    "kms:ScheduleKeyDeletion",
                    "kms:CancelKeyDeletion",
                ],
                "Resource": "*",
            },
        ],
    }


def run_demo(*, region: str = "us-east-1") -> dict[str, Any]:
    """Run the demo; the returned document holds both Test request results."""
    with LocalKms(region=region) as kms, tempfile.TemporaryDirectory(prefix="http-task-kms-demo-") as backups:
        admin = kms.create_admin("demo-admin")
        kms.require_signatures()
        signer = SigV4Signer(
            AwsCredentials(credentials=Credentials(admin.access_key_id, admin.secret_access_key))
        )
        options = Options(region=region, endpoint_url=kms.url, plugin_options={"backup_dir": backups})
        client = Client(options, signer=signer)
        created = client.test_request("kms.CreateKey", {"Description": "http-task-kms demo key"})
        if not created.ok:
            return {"ok": False, "step": "CreateKey", "createKey": created.to_json()}
        key_id = created.body["KeyMetadata"]["KeyId"]
        policy = sample_policy(admin.arn.split(":")[4], admin.arn)
        put = client.test_request("kms.PutKeyPolicy", {"KeyId": key_id, "Policy": policy})
        got = client.test_request("kms.GetKeyPolicy", {"KeyId": key_id, "PolicyName": "default"})
        stored = got.body.get("Policy") if got.ok and isinstance(got.body, dict) else None
        return {
            "ok": put.ok and got.ok,
            "endpoint": kms.url,
            "region": region,
            "caller": admin.arn,
            "keyId": key_id,
            "putKeyPolicy": put.to_json(),
            "getKeyPolicy": got.to_json(),
            "policyReadBack": json.loads(stored) if isinstance(stored, str) else None,
            "roundTrip": stored == json.dumps(policy, separators=(",", ":")),
        }
