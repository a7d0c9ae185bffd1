namespace Deploy.Tests;

/// <summary>Two real OpenPGP public keys (ed25519, made with gpg for these specs) and the fingerprints gpg reports for them.</summary>
public static class TestKeys
{
    public const string Armored = """
-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEaw3T8hYJKwYBBAHaRw8BAQdAn8NphpiZcW1rnloT5uktVf3c0+sYg4Sl0njk
incwzoS0KG5mLWRlcGxveSB0ZXN0IGtleSA8dGVzdEBuZi1kZXBsb3kudGVzdD6I
kAQTFggAOBYhBDlgD3getlvtBaQ1dOsiKMR9BRJDBQJrDdPyAhsDBQsJCAcCBhUK
CQgLAgQWAgMBAh4BAheAAAoJEOsiKMR9BRJD+50A/0y48rY0Rv61HLO4bhPT5J6R
5smTgLjlqPdnmDxOT2YxAQCJ3WeDyDcDkvVsj1kZTGjsv10LeUlGfTQY23j9HBTQ
BQ==
=5ER/
-----END PGP PUBLIC KEY BLOCK-----
""";

    public const string Fingerprint = "39600F781EB65BED05A43574EB2228C47D051243";

    public const string OtherArmored = """
-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEaw3T8xYJKwYBBAHaRw8BAQdAM+HJrEQcn3hVQsUX+xyU2Rk9Zx9E1W1sovC6
2etXqka0Km5mLWRlcGxveSBvdGhlciBrZXkgPG90aGVyQG5mLWRlcGxveS50ZXN0
PoiQBBMWCAA4FiEEodwQZeFFsx8Gz2vHQqnczcBi9ccFAmsN0/MCGwMFCwkIBwIG
FQoJCAsCBBYCAwECHgECF4AACgkQQqnczcBi9cfiuwD/YlqPrF4uDqwJtH6gpQVw
1FRIdsA1BZd2cr43/CIjwLMBAOAW9rePQs6vrnP8gDw/N9C8dmtDefvLU7kUmlJX
4LgD
=J0JR
-----END PGP PUBLIC KEY BLOCK-----
""";

    public const string OtherFingerprint = "A1DC1065E145B31F06CF6BC742A9DCCDC062F5C7";
}
