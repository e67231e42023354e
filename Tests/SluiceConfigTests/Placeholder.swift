import SluiceConfig
import Testing
