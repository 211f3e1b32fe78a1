// A minimal MCP server on the official TypeScript SDK (installed with the reference servers from the
// repository's package.json): "add_tool" registers a new tool "added", which makes the SDK send
// notifications/tools/list_changed. Used by McpToolListChangedTests.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

const server = new McpServer({ name: "dynamic-tools", version: "1.0.0" }, { capabilities: { tools: { listChanged: true } } });
server.registerTool("add_tool", { description: "Registers the tool 'added'." }, async () => {
  server.registerTool("added", { description: "A tool registered at run time." }, async () => ({ content: [{ type: "text", text: "added ran" }] }));
  return { content: [{ type: "text", text: "registered" }] };
});
await server.connect(new StdioServerTransport());
