/** The pages other than nodes, node and settings; one module each under ui/pages/. */
export { DiscoveryPage } from "./pages/discovery";
export { ImagesPage } from "./pages/images";
export { OverlaysPage } from "./pages/overlays";
export { ProfilesPage } from "./pages/profiles";
