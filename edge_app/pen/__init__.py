"""edge_app/pen"""
