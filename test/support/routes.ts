// Every route `registerRoutes` adds, with its declared permission.
export {
  listRoutes as registeredRoutes,
  type RouteInfo as RegisteredRoute,
} from '../../src/api/route-table.js';
