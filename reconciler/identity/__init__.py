"""Identity lives in the portal: markers, searches by marker, adoption, recovery, rebuild, the applied digest, refresh."""
