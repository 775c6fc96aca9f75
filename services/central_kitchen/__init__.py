"""Central kitchen: the network of sites, menus, production plans and the dispatch screen."""
