"""The two READMEs of ``schemas/``: what an outside team needs beyond the schemas themselves."""

from __future__ import annotations

from hub.contract.authenticate import DEFAULT_SKEW_SECONDS
from hub.contract.messages import MESSAGE_SPECS
from hub.contract.notary import NOTICE_NAMESPACE
from hub.contract.rules import LISTED_RULES
from hub.contract.schemas.body_rules import body_rule_sentences
from hub.contract.schemas.common import (
    EXTENSIONS_RULE,
    GENERATED,
    RECEIPT_ID_RULE,
    SIGNATURE_RULE,
)
from hub.contract.schemas.vector_keys import KEY2_REVOKED_AT

DUPLICATE_RULE = (
    "A message id is used once. The same id again with the same RFC 8785 canonical bytes is a "
    "copy (a re-send after a crash): it is not routed again and the sender gets "
    "notice.duplicate with the original outcome. The same id with other content from the same "
    "sender is refused with id_conflict (from another sender: id_reused) and dead-lettered, "
    "never routed, never dropped. So a message sent again must be byte-for-byte the same "
    "message: same created_at, expires_at, body and signature."
)
KEYS_RULE = (
    "Public keys are in the Maatwerkregister (registry.schema.json: participants[].keys[]), "
    "which the hub's operators publish, and, for a hub started with a key directory, as "
    "KEYS_DIR/<participant id>.json: a JSON array of key entries {kid, public_key, not_before, "
    "not_after, revoked_at?}; public_key is the raw 32-byte Ed25519 key in base64url without "
    "padding, kid is base64url (no padding) of the first 16 bytes of SHA-256 of it, the times "
    "are RFC 3339 UTC. Use a key only for messages whose created_at lies in [not_before, "
    "not_after) and that arrive before revoked_at. The hub signs its notices with the keys of "
    "the participant 'hub'. Ask the hub's operators for the registry file "
    "(`maatwerk-hub register list --json` prints it); test-vectors/registry.yaml and keys.json "
    "are a worked example."
)


def _receipt_table() -> str:
    lines = ["| type | needs a receipt | answered by | answers |", "| --- | --- | --- | --- |"]
    for spec in MESSAGE_SPECS.values():
        lines.append(
            f"| `{spec.type}` | {'yes' if spec.needs_receipt else 'no'} | "
            f"{', '.join(f'`{r}`' for r in spec.responses) or '-'} | "
            f"{', '.join(f'`{r}`' for r in spec.replies_to) or '-'} |"
        )
    return "\n".join(lines)


def _rules_table() -> str:
    lines = ["| id | field paths | rule | reason code |", "| --- | --- | --- | --- |"]
    for rule in LISTED_RULES:
        lines.append(f"| `{rule.id}` | {', '.join(f'`{p}`' for p in rule.field_paths)} | "
                     f"{rule.rule} | `{rule.reason.value}` |")
    return "\n".join(lines)


def _body_rules_list() -> str:
    return "\n".join(f"- `{spec.type}`: {' '.join(sentences)}" for spec in MESSAGE_SPECS.values()
                     if (sentences := body_rule_sentences(spec.body)))


def schemas_readme() -> str:
    return f"""\
# schemas/

{GENERATED}

- `json/<type>.schema.json`: JSON Schema (draft 2020-12) of each message type; every body field
  carries `x-data-category`. `json/registry.schema.json`: the participant registry.
- `asyncapi.yaml`: AsyncAPI 3.0.0 description of the broker topology, every AMQP property and
  header the hub sets, and the messages.
- `test-vectors/`: keys, signed messages of every type, refusals with their reason code, JCS
  examples; see its README.

Regenerate with `maatwerk-hub schemas export`; `maatwerk-hub schemas check` fails when this
directory differs from what the code would generate.

## Validating with a standard validator

Validate with any JSON Schema draft 2020-12 validator, with format checking on (`date`,
`date-time`, `uuid`). Every rule a schema can carry is in it: patterns, bounds, `not` (BSN
000000000, a case id with 8 digits in a row) and the rules across fields of a body, as `if`/`then`,
`anyOf` and `uniqueItems` in the body's `allOf`, each with a `$comment` saying it:

{_body_rules_list()}

Every integer, amounts in cents included, may be written with a zero fraction (`4.0`): JSON
Schema counts it as an integer, RFC 8785 writes it `4`, and the hub accepts it.

{EXTENSIONS_RULE}

The rules no JSON Schema can carry are listed per schema under `x-maatwerk.rules`, each with an
id, the JSON Pointers of the fields it reads, one sentence and the reason code of its refusal;
each has an invalid vector. All of them:

{_rules_table()}

## Refusals

A refused message is dead-lettered and its broker-authenticated sender gets `notice.refused`:
`reason_code`, `detail`, `field_paths` as JSON Pointers (RFC 6901) into the whole message, e.g.
`/body/bsn` (schema violations and policy refusals alike; never the values), `rule` and
`policy_version` for a policy refusal. It names `refused_message_id` (the envelope id, or the AMQP
`message_id` when the body could not be read) and carries the refused message's `case_id` and
`conversation_id` whenever they could be read (else case `unknown`).

Publish with the AMQP `message_id` equal to the envelope `id` (else `message_id_mismatch`).
A message lives at most its type's agreed lifetime, `expires_at - created_at` (30 days unless the
agreements say otherwise; else `lifetime_exceeded`).

**Duplicates.** {DUPLICATE_RULE}

## Receipts, answers and their ids

{RECEIPT_ID_RULE} Send the receipt as soon as the message is durably stored, before the business
answer; deadlines (agreements): receipt within 15 minutes, answer within 2 working days.

{_receipt_table()}

The hub's own messages have derived ids too, so a copy sent again after a crash has the same id:
UUID v5 in the namespace `{NOTICE_NAMESPACE}` of the name `<kind>:<message id>`: kind `refused`
(`refused:<id>:<digest>` for `id_conflict` and `id_reused`, where digest is the hex
SHA-256 of the refused message's signing input followed by its `signature.value` characters),
`duplicate`, `register.answer`; a reminder or overdue notice is UUID v5 of that
id (kind `notice.reminder` / `notice.overdue`) with the name `<awaited>:<recipient>`, a
`timeout.ended` UUID v5 of the id (kind `timeout.ended`, the request's id) with the recipient
as name. The valid vectors show each.

## Public keys

{KEYS_RULE}
"""


def vectors_readme() -> str:
    skew = DEFAULT_SKEW_SECONDS
    return f"""\
# Test vectors for the Maatwerk Hub message contract

{GENERATED}

These files let a team in any language check its JSON canonicalisation (RFC 8785, JCS), its
Ed25519 signing, its schema validation and its refusal reasons against the hub, using nothing but
these files.

## Files

- `keys.json`: fixed Ed25519 test keys. `seed_hex` is the 32-byte private seed
  (SHA-256 of `seed_text`), `private_key_pkcs8_pem` the same key as PKCS#8 PEM, `public_key`
  the raw 32-byte public key in base64url without padding, `kid` its key id. Test keys only.
- `registry.yaml`: the participant registry the vectors are checked against (schema:
  `../json/registry.schema.json`), public keys inline. gm0193 has key1 (valid) and key2
  (revoked {KEY2_REVOKED_AT}); cjib key4, loket key5, let key6, the hub key7; key3 is
  registered for nobody.
- `policy.yaml`: the data-sharing policy the vectors are checked against: the hub's default
  policy without the rule `register-answer-loket` (so that `policy_no_rule` has a vector).
- `agreements.yaml`: the agreements (deadlines, time-out rules, lifetimes): the hub's defaults.
- `canonicalization.json`: JCS examples (including the published RFC 8785 examples).
- `valid/NN-<type>.json`: signed messages of every message type, the hub's notices and answers
  included (20-25), that must verify; read them in order, answers follow what they answer.
- `invalid/NN-<case>.json`: messages that must be refused with `expected_reason`. `message` is
  the message; where it is not a JSON object, `message_text` holds the exact text instead.
  `max_message_bytes`, where given, is the size limit to apply (the hub's default is 256 KiB).

## The signature rule

{SIGNATURE_RULE}

## How to check your implementation

1. **Canonicalisation.** For each case in `canonicalization.json`, parse `input_json_text`,
   canonicalise it and compare your UTF-8 bytes with `canonical_utf8_hex` (`canonical` is the
   same text, for reading).
2. **Signing input.** For each file in `valid/`: take `message`, remove `signature.value` (keep
   `signature.alg` and `signature.kid`), canonicalise the whole object and compare the bytes with
   `signing_input` (UTF-8) and their SHA-256 with `signing_input_sha256`.
3. **Verification.** Decode `signature` (base64url, no padding, 64 bytes) and `public_key`
   (32 bytes) and verify the Ed25519 signature over the signing input. Check that `kid` equals
   base64url(SHA-256(public key)[:16]) without padding, and equals `message.signature.kid`.
4. **Signing.** Load the key named by `key` from `keys.json` (seed or PEM), sign the signing
   input yourself and compare with `signature`: Ed25519 is deterministic, so the bytes are equal.
5. **Refusals.** For each file in `invalid/` whose `step` is `verify`, run your full check at the
   moment `verify_at` with a clock-skew allowance of {skew} seconds, using `registry.yaml`, in
   this order, and compare the first failure with `expected_reason`:
   1. the size limit, when `max_message_bytes` is given (`oversize`); the text is JSON without
      duplicate keys (`malformed_json`);
   2. the message validates against `../json/<type>.schema.json` (an unknown `type` gives
      `unknown_type`) and the rules listed under `x-maatwerk.rules` with reason
      `schema_violation` (anything failing: `schema_violation`);
   3. `sender` is registered (`unknown_sender`); the key `signature.kid` is registered for
      `sender` (`unknown_key`), not revoked at `verify_at` (`key_revoked`) and valid at
      `created_at` (`key_not_valid`);
   4. the signature verifies with that key (`bad_signature`);
   5. `verify_at` is before `expires_at` (`expired`) and `created_at` is at most {skew}
      seconds after `verify_at` (`clock_skew`).
   Files whose `step` is `pipeline` pass all of these and are refused by what the hub checks
   next: the agreed lifetime (`lifetime_exceeded`, listed rule `max-lifetime`), the registry's
   `sends` and `receives` (`unauthorised_type`, `unauthorised_recipient`), the time-out rules of
   `agreements.yaml` (`timeout_rule`) and `policy.yaml` (`policy_no_rule`,
   `policy_field_not_allowed`, `policy_special_category`). Every file in `valid/` passes all of
   these at its `verify_at`.

Reasons that content alone cannot cause have no vector: they depend on the broker
(`missing_user_id`, `user_id_mismatch`, `message_id_mismatch`, `unroutable`) or on what the hub
saw before (`id_reused`, `id_conflict`, `unknown_conversation`). The hub runs the same checks in
`hub.contract.authenticate` and `hub.core.pipeline`; its test suite (`tests/unit/test_vectors.py`)
runs every file here through a standard JSON Schema validator and through the hub and fails when
they disagree.
"""
