"""The pure core: schema, schedule translation and rendering. Nothing here touches the machine."""
