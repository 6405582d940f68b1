/**
 * Marks a route's documented body as optional (@fastify/swagger makes every
 * body it documents required); an `x-` key, so it reaches the operation and
 * `transformObject` in openapi.ts can act on it and drop it. Its own module:
 * the routes name it without loading the document's builders (see app.ts).
 */
export const BODY_OPTIONAL = 'x-hookline-body-optional'
