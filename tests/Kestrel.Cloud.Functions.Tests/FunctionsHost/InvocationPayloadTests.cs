using System.Text;
using Kestrel.Cloud.Functions.FunctionsHost;

namespace Kestrel.Cloud.Functions.Tests.FunctionsHost;

/// <summary>Decoding what the Functions host posts to a custom handler.</summary>
public class InvocationPayloadTests
{
    [Fact]
    public void DataText_StringEncodedTwice_ReturnsTheOriginalText()
    {
        InvocationPayload payload = Parse("""{"Data":{"message":"\"{\\\"k\\\":\\\"wake\\\",\\\"id\\\":\\\"a\\\"}\""},"Metadata":{}}""");

        payload.DataText("message").Should().Be("""{"k":"wake","id":"a"}""");
    }

    [Fact]
    public void DataText_PlainString_ReturnsItUnchanged()
    {
        InvocationPayload payload = Parse("""{"Data":{"message":"hello"},"Metadata":{}}""");

        payload.DataText("message").Should().Be("hello");
    }

    [Fact]
    public void DataText_JsonObject_ReturnsItsJsonText()
    {
        InvocationPayload payload = Parse("""{"Data":{"message":{"k":"wake","id":"a"}},"Metadata":{}}""");

        payload.DataText("message").Should().Be("""{"k":"wake","id":"a"}""");
    }

    [Fact]
    public void DataText_BindingNameInOtherCase_IsFound()
    {
        Parse("""{"data":{"Message":"x"}}""").DataText("message").Should().Be("x");
    }

    [Theory]
    [InlineData("""{"DequeueCount":3}""")]
    [InlineData("""{"DequeueCount":"3"}""")]
    [InlineData("""{"DequeueCount":"\"3\""}""")]
    public void MetadataInt64_NumberInAnyEncoding_ReturnsIt(string metadata)
    {
        Parse($$"""{"Data":{},"Metadata":{{metadata}}}""").MetadataInt64("DequeueCount").Should().Be(3);
    }

    [Fact]
    public void RequiredMetadataText_IdEncodedTwice_ReturnsTheId()
    {
        Parse("""{"Data":{},"Metadata":{"Id":"\"6f1c\""}}""").RequiredMetadataText("Id").Should().Be("6f1c");
    }

    [Fact]
    public void RequiredMetadataText_Missing_ThrowsNamingIt()
    {
        Action act = () => Parse("""{"Data":{},"Metadata":{}}""").RequiredMetadataText("PopReceipt");

        act.Should().Throw<FormatException>().WithMessage("The invocation metadata 'PopReceipt' is missing.");
    }

    [Fact]
    public void Parse_NotJson_ThrowsFormatException()
    {
        Action act = () => Parse("not json");

        act.Should().Throw<FormatException>().WithMessage("The invocation body is not JSON*");
    }

    private static InvocationPayload Parse(string json) => InvocationPayload.Parse(Encoding.UTF8.GetBytes(json));
}
