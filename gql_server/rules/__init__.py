"""Quality-control rules: pure evaluation of metrics into actions, apart from loading and acting."""
