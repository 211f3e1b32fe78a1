namespace Kestrel.Cloud.Agents.Storage.Tests;

/// <summary>The continuation tokens of the session stores: unpadded base64url (RFC 4648 §5) of a JSON array of strings.</summary>
public sealed class SessionRecordsTests
{
    // Known values: tokens issued before must keep decoding, and new ones must look the same. The second and third
    // use the two characters base64url swaps ('_' for '/', '-' for '+') and drop the '=' padding.
    [Theory]
    [InlineData("default", "bob", "WyJkZWZhdWx0IiwiYm9iIl0")]
    [InlineData("x", "agent?", "WyJ4IiwiYWdlbnQ_Il0")]
    [InlineData("x", "k?~", "WyJ4Iiwiaz9-Il0")]
    public void Token_KnownPair_EncodesToKnownTextAndParsesBack(string agent, string key, string token)
    {
        SessionRecords.Token(agent, key).Should().Be(token);
        SessionRecords.ParseToken(token).Should().Be((agent, key));
    }

    [Fact]
    public void EncodeDecode_AnyText_RoundTrips()
    {
        string[] values = ["", "ümlaut ✓ 🙂", "slashes/and+plus=", new string('z', 300)];

        SessionRecords.Decode(SessionRecords.Encode(values), values.Length).Should().Equal(values);
    }

    [Theory]
    [InlineData("not a token!")]
    [InlineData("WyJ4Il0")] // ["x"]: one value where two are wanted
    [InlineData("bnVsbA")] // null
    public void ParseToken_NotAnIssuedToken_ThrowsArgumentException(string token)
    {
        Action parse = () => SessionRecords.ParseToken(token);

        parse.Should().Throw<ArgumentException>().WithMessage("The continuation token is not one this store issued.*");
    }
}
