// Swagger UI for the OpenAPI document, loaded from the app's own files.
window.addEventListener("load", function () {
  const element = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: element.dataset.specUrl, dom_id: "#swagger-ui", deepLinking: true });
});
