// The API reference: Swagger UI (npm: swagger-ui-dist) draws the OpenAPI document. "Try it out" is
// off: calls need a bearer token, and a reference page is no place to paste one.
const holder = document.getElementById("api-reference");
window.SwaggerUIBundle({
  url: holder.dataset.schema,
  domNode: holder,
  deepLinking: true,
  supportedSubmitMethods: [],
  defaultModelsExpandDepth: 0,
});
