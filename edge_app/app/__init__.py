"""edge_app/app"""
