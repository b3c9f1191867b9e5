"""The OQS message layer: code lists and identifiers every onshi component shares.

OQS is the prefix of the file interface between billing/EMR software (レセコン/電子カルテ) and the
eligibility terminal (資格確認端末). Element names (``InsurerNumber``, ``QualificationValidity``…) are
used unchanged in code and data so that a reader of the real interface recognises them.
"""
