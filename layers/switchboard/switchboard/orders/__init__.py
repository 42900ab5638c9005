"""Shop orders and shipments: the events shops send (Shopify, the signed generic endpoint, EventBridge), one
normalized model of them, and the state machine that never moves a shipment backward (docs/notifications.md)."""
